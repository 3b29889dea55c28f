"""The web console: static pages and scripts served by the api service itself (docs/console.md)."""
