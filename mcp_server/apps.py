from django.apps import AppConfig


class McpServerConfig(AppConfig):
    """An interface, like the dashboard and the JSON API: ``/mcp`` over ``agents``."""

    name = "mcp_server"
    verbose_name = "MCP server"
