"""Small clients of other systems (the Docker Engine API over ssh or a socket) and their error wording.
Imports nothing of the project."""
