"""Developer tools: the Analyzer protocol driver and the offline preview."""
