#!/usr/bin/env python3
"""Why this exists: carriers drop their tracking files on FTP, FTPS and SFTP servers, and the
import's remote sources must be tested against real servers of those kinds without leaving
127.0.0.1. scripts/local-stack.sh runs this from .venv (pyftpdlib, pyopenssl, asyncssh, and
cryptography, which moto already brings) to make throw-away keys and certificates and to serve.

Subcommands:
  keys --dir D
      a CA (ca.pem), a server certificate for 127.0.0.1 and localhost signed by it
      (server.pem, server-key.pem), an unrelated CA (other-ca.pem), an SSH host key
      (ssh_host_key, fingerprint in ssh_host_key.fingerprint, OpenSSH's SHA256:... form) and an
      SSH client key pair (client_key, client_key.pub). Everything is made anew on each call.
  ftp --root R --user U --password P --port-file F [--cert C --key K] [--masquerade A]
      pyftpdlib on 127.0.0.1 (a free port, written to F once listening); with --cert/--key it
      is FTPS with explicit TLS required on the control and data connections; with
      --masquerade its PASV answers name address A instead of its own.
  sftp --root R --user U --password P --host-key H --authorized-key A --port-file F
      asyncssh on 127.0.0.1 with an SFTP subsystem chrooted to R; password or public-key auth.

Every server binds 127.0.0.1 only and runs until SIGTERM.
"""
import argparse
import asyncio
import datetime
import ipaddress
import os
import signal
import sys


def write_port(path, port):
    # Written whole then renamed, so the waiting shell never reads a half-written file.
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def cmd_keys(args):
    import asyncssh
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(args.dir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def ca(name):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    def pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    def write(name, data, mode=0o644):
        path = os.path.join(args.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    ca_key, ca_cert = ca("carrier-test CA (throw-away)")
    _, other_cert = ca("unrelated CA (throw-away)")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write("ca.pem", pem(ca_cert))
    write("other-ca.pem", pem(other_cert))
    write("server.pem", pem(server_cert))
    write(
        "server-key.pem",
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    write("ssh_host_key", host_key.export_private_key("openssh"), 0o600)
    write("ssh_host_key.fingerprint", host_key.get_fingerprint("sha256").encode() + b"\n")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    write("client_key", client_key.export_private_key("openssh"), 0o600)
    write("client_key.pub", client_key.export_public_key("openssh"))


def cmd_ftp(args):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    # e: change dir, l: list, r: retrieve, a/w: write, d: delete, f: rename, m: mkdir, T: MFMT.
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")
    if args.cert:
        from pyftpdlib.handlers import TLS_FTPHandler

        class Handler(TLS_FTPHandler):
            pass

        Handler.certfile = args.cert
        Handler.keyfile = args.key
        # Explicit TLS only: a client that skips AUTH TLS / PROT P is refused.
        Handler.tls_control_required = True
        Handler.tls_data_required = True
    else:
        from pyftpdlib.handlers import FTPHandler

        class Handler(FTPHandler):
            pass

    Handler.authorizer = authorizer
    Handler.banner = "carrier test server ready"
    if args.masquerade:
        # PASV answers name this address instead of the server's own: a hostile or NATed
        # server pointing the data connection elsewhere. The import must ignore it and connect
        # to the control connection's address (the data socket listens on 127.0.0.1 only).
        Handler.masquerade_address = args.masquerade
    server = FTPServer(("127.0.0.1", 0), Handler)
    server.max_cons = 64

    def stop(*_):
        # serve_forever(handle_exit=True) treats this like Ctrl-C: close everything, then return.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    write_port(args.port_file, server.address[1])
    server.serve_forever(handle_exit=True)


def cmd_sftp(args):
    import asyncssh

    authorized = asyncssh.import_authorized_keys(open(args.authorized_key).read())

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == args.user and password == args.password

        def public_key_auth_supported(self):
            return True

        def validate_public_key(self, username, key):
            return username == args.user and authorized.validate(key, "", "127.0.0.1") is not None

    async def main():
        server = await asyncssh.create_server(
            Server,
            "127.0.0.1",
            0,
            server_host_keys=[args.host_key],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=args.root.encode()),
            allow_scp=False,
        )
        port = server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        write_port(args.port_file, port)
        await stop.wait()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    keys = sub.add_parser("keys")
    keys.add_argument("--dir", required=True)
    for name in ("ftp", "sftp"):
        p = sub.add_parser(name)
        p.add_argument("--root", required=True)
        p.add_argument("--user", required=True)
        p.add_argument("--password", required=True)
        p.add_argument("--port-file", required=True)
        if name == "ftp":
            p.add_argument("--cert")
            p.add_argument("--key")
            p.add_argument("--masquerade")
        else:
            p.add_argument("--host-key", required=True)
            p.add_argument("--authorized-key", required=True)
    args = parser.parse_args()
    {"keys": cmd_keys, "ftp": cmd_ftp, "sftp": cmd_sftp}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
