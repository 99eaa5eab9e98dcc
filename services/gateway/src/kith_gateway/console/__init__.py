"""The web console: the same journeys as the API in plain HTML, on the same services and roles.

Not part of the OpenAPI document. A user signs in with an API token, which is exchanged for a
signed, HttpOnly, SameSite=Strict cookie naming the token (by hash, never the secret); every
page re-checks that token, so revoking it signs the console out too. Forms carry a CSRF token
derived from the cookie.
"""
