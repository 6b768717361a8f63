"""One door for every lead that arrives: the API, a batch, an imported file and, later, each connector."""
