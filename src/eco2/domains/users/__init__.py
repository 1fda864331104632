"""users ("my"): the profile behind ``/user/me`` and ``/users/me``."""
