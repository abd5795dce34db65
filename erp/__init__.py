"""The Django project and the base code every Concord app shares."""
