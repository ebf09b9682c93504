"""REST routes under ``/api/v1``: thin layers over the library."""
