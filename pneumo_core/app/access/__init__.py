"""Who is at the app and what they may do: the login door and the sign-in box (`login`),
the user, the roles and the audit records in their name (`identity`), the login that ends at
logout or after a shift (`sessions`), and the guard each page starts with, so a page run alone
(a fresh server's deep link) passes the same door and role check (`page_guard`)."""

__all__ = ["identity", "login", "sessions", "page_guard"]
