"""A tiny OpenID Connect provider on loopback: token, JWKS and userinfo.

It signs ID tokens (RS256) with a key of its own and answers any code; the
test sets the claims and the nonce the client sent to the authorize URL.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "test-key-1"


class Provider:
    def __init__(self, client_id: str):
        self.client_id = client_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims: dict = {}
        self.id_claims: dict = {}
        self.nonce = ""
        self.token_requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                from urllib.parse import parse_qs

                form = parse_qs(self.rfile.read(length).decode())
                provider.token_requests.append(form)
                if self.path == "/token":
                    self._json(
                        {"id_token": provider.id_token(), "access_token": "at-1"}
                    )
                else:
                    self._json({"error": "not found"}, 404)

            def do_GET(self):
                if self.path == "/jwks":
                    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
                        provider.key.public_key(), as_dict=True
                    )
                    self._json(
                        {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}
                    )
                elif self.path == "/userinfo":
                    self._json(provider.claims)
                else:
                    self._json({"error": "not found"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def id_token(self) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": self.claims.get("sub", "subject-1"),
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            **self.id_claims,
        }
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": KID})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
