"""`chalice local` with three changes: unknown paths get our JSON 404, no raw access log, and
a listen backlog that survives a burst of connections.

Plain `chalice local` answers a path no route matches itself, like API Gateway, with
`403 {"message": "Missing Authentication Token"}`. In AWS the deployed API's gateway
responses turn that into `404 {"error": "Not found."}` (deploy/cloudformation/edge.py); this
does the same locally. Its access log prints every raw path, device ids included; the
app's own JSON line per request replaces it. With METRICS=prometheus it serves `/metrics`
(make dev). Everything else is Chalice's local server:

    python -m devtools.local --host 127.0.0.1 --port 8000 [--stage dev]
"""

import argparse
import logging
import os
import sys

from chalice.cli.factory import CLIFactory
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    ThreadedHTTPServer,
)

NOT_FOUND_BODY = b'{"error":"Not found."}'


class NotFoundError(LocalGatewayException):
    CODE = 404


class JsonNotFoundGateway(LocalGateway):
    def _generate_lambda_event(self, method, path, headers, body):
        try:
            return super()._generate_lambda_event(method, path, headers, body)
        except ValueError:  # Chalice's RouteMatcher: no route for this path
            raise NotFoundError({"Content-Type": "application/json"}, NOT_FOUND_BODY) from None


class RequestHandler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = JsonNotFoundGateway(app_object, config)
        # Skip ChaliceRequestHandler.__init__, which would build a plain LocalGateway.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def do_GET(self):
        # METRICS=prometheus (make dev): the figures at /metrics, as functions/wsgi.py serves them.
        if self.path == "/metrics" and os.environ.get("METRICS") == "prometheus":
            from chalicelib.platform.prometheus import exposition

            text, content_type = exposition()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        super().do_GET()

    def log_message(self, *_args):
        # The default access log prints the raw path, device ids included; the app's own
        # JSON line per request (route template, status, duration) replaces it.
        pass


class BackloggedServer(ThreadedHTTPServer):
    # socketserver's listen backlog is 5: a burst of connections (the app sending a first
    # message several times at once) is reset by the kernel before a thread can take it.
    request_queue_size = 128
    daemon_threads = True


def create_server(host: str, port: int, stage: str = "dev", project_dir: str = ".") -> LocalDevServer:
    # As `chalice local` does: the stage's environment_variables go into os.environ.
    factory = CLIFactory(project_dir=os.path.abspath(project_dir), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    return LocalDevServer(
        config.chalice_app, config, host, port, handler_cls=RequestHandler, server_cls=BackloggedServer
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args()
    # Request logs on stdout, as `chalice local` prints them: our JSON lines at INFO, the
    # libraries' (botocore's credential notes, PynamoDB's settings) only from WARNING up.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s")
    logging.getLogger("integreat_chat").setLevel(logging.INFO)
    server = create_server(args.host, args.port, args.stage)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
