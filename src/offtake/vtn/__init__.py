"""OpenADR 3.1.0 VTN: sites receive their caps and send their meter data over the open standard."""
