"""The MCP endpoint (``/mcp``): connections as tools for AI agents, over the official ``mcp``
SDK's Streamable HTTP transport in its stateless, JSON-response mode."""
