"""The floor: Tortoise models, migrations, database and Redis lifecycle. Imports nothing above it."""
