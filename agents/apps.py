from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Connections as tools for AI agents: which actions an agent may call (per profile,
    overridden per connection), the tools a connection offers on the version serving it now,
    calls-per-minute limits, and the tool call through the runtime."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "agents"
    verbose_name = "Agent tools"
