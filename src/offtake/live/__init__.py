"""Live operation: the dispatch core driven by the clock, a grid feed and the platform database."""
