"""scan: photo → category → Korean disposal rules → answer → character reward."""
