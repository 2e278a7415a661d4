"""The App's actions that open screens and start operations (mixins of LecsApp)."""
