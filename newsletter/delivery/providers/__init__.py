"""One folder (or module) per delivery provider, each independent of the others; the
registry (`newsletter.delivery.registry`) names them."""
