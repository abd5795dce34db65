"""The governance domain's tables arrive with its issue; the app exists so the layout is whole."""
