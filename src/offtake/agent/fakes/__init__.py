"""Fakes at the edge of the world, speaking the real protocols: Whatsminer API v2, Modbus TCP, NVML."""
