"""Who is at the app and what they may do: the login door and the sign-in box (`login`),
the user, the roles and the audit records in their name (`identity`), the login that ends at
logout or after a shift (`sessions`)."""

__all__ = ["identity", "login", "sessions"]
