"""Serve Keystone or Placement (both are WSGI applications) on 127.0.0.1 with a small threaded
wsgiref server: no Apache, uWSGI or mod_wsgi needed for a test cloud.

Usage: /usr/bin/python3 wsgi.py HOST PORT keystone|placement
Config: Keystone reads OS_KEYSTONE_CONFIG_DIR/OS_KEYSTONE_CONFIG_FILES, Placement OS_PLACEMENT_CONFIG_DIR.
Started by up.sh.
"""
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # parallel test clients: do not let the kernel drop connections


def main():
    host, port, which = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.argv = sys.argv[:1]  # both apps parse sys.argv with oslo.config
    if which == "keystone":
        from keystone.server.wsgi import initialize_public_application as factory
    elif which == "placement":
        from placement.wsgi import init_application as factory
    else:
        sys.exit("unknown app %r" % which)
    app = factory()
    make_server(host, port, app, server_class=ThreadingWSGIServer,
                handler_class=WSGIRequestHandler).serve_forever()


if __name__ == "__main__":
    main()
