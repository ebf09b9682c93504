"""The HTTP API: the FastAPI application, its lifecycle tasks and routes (REST and OpenADR 3).

A thin layer: each route checks its input, calls one domain function and shapes the answer.
"""
