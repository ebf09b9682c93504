"""The site agent: a VEN of the platform's VTN that turns caps into machine settings and meters the site.

A separate program (``offtake agent --config site.toml``) that talks to the platform only over HTTP
(OpenADR 3.1); it imports the OpenADR wire models and units, never the API.
"""
