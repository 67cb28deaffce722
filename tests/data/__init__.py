"""The data: MNIST reading and download, the seed's sine data."""
