#!/usr/bin/env python3
"""fake_registry.py — a small OCI distribution registry for the tests,
stdlib only, that serves real images and misbehaves on demand.

  fake_registry.py serve DIR PORTFILE      serve DIR on 127.0.0.1 (free port
                                           written to PORTFILE once listening)
  fake_registry.py mkimage DIR REPO TAG NLAYERS SIZE
                                           build an image (gzip tar layers of
                                           SIZE random bytes each) into DIR;
                                           prints the manifest digest
  fake_registry.py variant DIR REPO TAG NEWTAG KIND
                                           a broken copy of REPO:TAG as NEWTAG
  fake_registry.py digest DIR REPO TAG     the manifest digest of REPO:TAG

DIR holds blobs/<hex> (every blob and manifest), repos/<repo>/_blobs/<hex>
(markers: the repository has the blob), repos/<repo>/_manifests/<tag> and
expected/<repo>/<tag>/<path> (the files the layers hold, for comparison).
DIR/mode.json, read on every request, says how to misbehave:
  drop_after N, drop_count C   close the connection after N bytes of a blob
                               body, for the first C requests of each blob
  ignore_range                 answer Range requests with 200 and everything
  content_length "huge"        announce 10^13 bytes for blobs
  content_length "extra"       send 4096 bytes more than the blob has (no
                               Content-Length: the body ends at close)
  redirect_loop                blob GETs redirect to themselves
  slow S                       blob bodies: one byte every S seconds
  rate B                       blob bodies and uploads at B bytes/second
  auth "bearer"|"basic", users {name: password}, anonymous (bearer: pull
  tokens without credentials), token_uses N (a token expires after N uses)
  no_mount                     answer cross-repository mounts with 202
  manifest_no_length           manifests without Content-Length (ended by close)
Blobs under min_size (4096) bytes, the configs, are always served plainly.
Every request is logged to DIR/requests.log as one JSON object per line.
"""
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import secrets
import socket
import sys
import tarfile
import threading
import time
import urllib.parse

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def put_blob(root, repo, data):
    h = sha(data)
    os.makedirs(f"{root}/blobs", exist_ok=True)
    with open(f"{root}/blobs/{h}", "wb") as f:
        f.write(data)
    mark(root, repo, h)
    return h


def mark(root, repo, h):
    os.makedirs(f"{root}/repos/{repo}/_blobs", exist_ok=True)
    open(f"{root}/repos/{repo}/_blobs/{h}", "w").close()


def put_manifest(root, repo, tag, data):
    h = put_blob(root, repo, data)
    os.makedirs(f"{root}/repos/{repo}/_manifests", exist_ok=True)
    with open(f"{root}/repos/{repo}/_manifests/{tag}", "wb") as f:
        f.write(data)
    return "sha256:" + h


def load_manifest(root, repo, tag):
    with open(f"{root}/repos/{repo}/_manifests/{tag}", "rb") as f:
        return f.read()


def blob(root, h):
    with open(f"{root}/blobs/{h}", "rb") as f:
        return f.read()


def make_image(root, repo, tag, nlayers, size):
    layers, diff_ids = [], []
    for i in range(nlayers):
        files = {f"data/{i}.bin": os.urandom(size), f"etc/layer-{i}": f"layer {i}\n".encode()}
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
            for d in ("data", "etc"):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                t.addfile(ti)
            for name, data in files.items():
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
                t.addfile(ti, io.BytesIO(data))
                exp = f"{root}/expected/{repo}/{tag}/{name}"
                os.makedirs(os.path.dirname(exp), exist_ok=True)
                with open(exp, "wb") as f:
                    f.write(data)
        diff_ids.append("sha256:" + sha(raw.getvalue()))
        gz = gzip.compress(raw.getvalue(), mtime=0)
        layers.append({"mediaType": MT_LAYER_GZ, "digest": "sha256:" + put_blob(root, repo, gz),
                       "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    man = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
           "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + put_blob(root, repo, config),
                      "size": len(config)},
           "layers": layers}
    return put_manifest(root, repo, tag, json.dumps(man).encode())


def variant(root, repo, tag, newtag, kind):
    raw = load_manifest(root, repo, tag)
    man = json.loads(raw)
    l0 = man["layers"][0]
    if kind == "digest-mismatch":
        # The bytes served for the tag are not the ones its digest names.
        d = put_manifest(root, repo, newtag, raw + b" ")
        with open(f"{root}/repos/{repo}/_manifests/{newtag}.digest", "w") as f:
            f.write("sha256:" + sha(raw))
        return d
    if kind == "wrong-size":
        l0["size"] += 1
    elif kind == "missing-layer":
        l0["digest"] = "sha256:" + sha(b"no such layer")
    elif kind == "config-extra-diffid":
        cfg = json.loads(blob(root, man["config"]["digest"][7:]))
        cfg["rootfs"]["diff_ids"].append("sha256:" + sha(b"a layer the manifest lacks"))
        data = json.dumps(cfg).encode()
        man["config"] = {"mediaType": MT_CONFIG, "digest": "sha256:" + put_blob(root, repo, data),
                         "size": len(data)}
    elif kind == "corrupt-gzip":
        # A real gzip stream whose middle is damaged; served with its true
        # digest, so only the decompression can notice.
        gz = bytearray(blob(root, l0["digest"][7:]))
        mid = len(gz) // 2
        for k in range(mid, mid + 64):
            gz[k] ^= 0x5A
        l0["digest"] = "sha256:" + put_blob(root, repo, bytes(gz))
        l0["size"] = len(gz)
    elif kind == "huge-manifest":
        man["annotations"] = {"pad": "x" * (5 << 20)}
    else:
        sys.exit(f"unknown variant {kind}")
    return put_manifest(root, repo, newtag, json.dumps(man).encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    tokens = {}
    lock = threading.Lock()
    blob_gets = {}
    grants = {}

    def log_message(self, fmt, *args):
        pass

    def mode(self):
        """The misbehaviour asked for; "_gen" changes with each new mode
        file, so that drop_count counts requests since then."""
        try:
            with open(f"{self.root}/mode.json") as f:
                m = json.load(f)
                m["_gen"] = os.fstat(f.fileno()).st_mtime_ns
                return m
        except FileNotFoundError:
            return {}

    def log(self, status, **extra):
        rec = {"method": self.command, "path": self.path, "status": status,
               "range": self.headers.get("Range"),
               "auth": (self.headers.get("Authorization") or "").split(" ")[0] or None}
        rec.update(extra)
        with self.lock, open(f"{self.root}/requests.log", "a") as f:
            f.write(json.dumps(rec) + "\n")

    def reply(self, code, body=b"", headers=None, **extra):
        self.send_response(code)
        hs = {"Content-Length": str(len(body)), "Docker-Distribution-API-Version": "registry/2.0"}
        hs.update(headers or {})
        for k, v in hs.items():
            if v is not None:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log(code, **extra)

    def error(self, code, what, headers=None):
        body = json.dumps({"errors": [{"code": what.upper(), "message": what}]}).encode()
        self.reply(code, body, dict({"Content-Type": "application/json"}, **(headers or {})))

    # ---- auth
    def basic_user(self, m):
        a = self.headers.get("Authorization") or ""
        if not a.startswith("Basic "):
            return None
        try:
            u, _, p = base64.b64decode(a[6:]).decode().partition(":")
        except Exception:
            return None
        return u if m.get("users", {}).get(u) == p and p else None

    def token_endpoint(self, m):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        user = self.basic_user(m)
        if self.headers.get("Authorization") and not user:
            return self.error(401, "bad credentials")
        if not user and not m.get("anonymous"):
            return self.error(401, "credentials required")
        grants = {}
        for sc in " ".join(q.get("scope", [])).split():
            parts = sc.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                acts = set(parts[2].split(","))
                if not user:
                    acts &= {"pull"}
                grants[parts[1]] = acts
        t = secrets.token_hex(16)
        with self.lock:
            self.tokens[t] = {"grants": grants, "uses": 0}
        self.reply(200, json.dumps({"token": t}).encode(), {"Content-Type": "application/json"},
                   scope=q.get("scope"), service=q.get("service"), user=user)

    def authorised(self, m, repo, action):
        kind = m.get("auth")
        if not kind:
            return True
        port = self.server.server_address[1]
        if kind == "basic":
            if self.basic_user(m):
                return True
            self.error(401, "unauthorized", {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        a = self.headers.get("Authorization") or ""
        tok = None
        with self.lock:
            if a.startswith("Bearer "):
                tok = self.tokens.get(a[7:])
            if tok is not None:
                tok["uses"] += 1
                if m.get("token_uses") and tok["uses"] > m["token_uses"]:
                    tok = None
        if tok is not None and (repo is None or action in tok["grants"].get(repo, ())):
            self.grants = tok["grants"]
            return True
        chal = f'Bearer realm="http://127.0.0.1:{port}/token",service="x"'
        if repo is not None:
            acts = "pull" if action == "pull" else "pull,push"
            scope = f"repository:{repo}:{acts}"
            # A mount also needs pull on the source: both scopes, as
            # docker's registry asks for them.
            src = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("from")
            if src:
                scope += f" repository:{src[0]}:pull"
            chal += f',scope="{scope}"'
        self.error(401, "unauthorized", {"WWW-Authenticate": chal})
        return False

    # ---- routing
    def route(self):
        u = urllib.parse.urlparse(self.path)
        p = u.path
        m = self.mode()
        if p == "/token":
            return self.token_endpoint(m)
        if p == "/v2/" or p == "/v2":
            if self.authorised(m, None, "pull"):
                self.reply(200, b"{}", {"Content-Type": "application/json"})
            return
        if not p.startswith("/v2/"):
            return self.error(404, "not found")
        rest = p[4:]
        for key in ("/manifests/", "/blobs/uploads/", "/blobs/"):
            if key in rest:
                repo, _, arg = rest.rpartition(key) if key != "/blobs/uploads/" else rest.partition(key)
                break
        else:
            return self.error(404, "not found")
        action = "pull" if self.command in ("GET", "HEAD") else "push"
        if not self.authorised(m, repo, action):
            return
        if key == "/manifests/":
            return self.manifest(m, repo, arg)
        if key == "/blobs/uploads/":
            return self.upload(m, repo, arg, urllib.parse.parse_qs(u.query))
        return self.blob(m, repo, arg)

    def manifest(self, m, repo, ref):
        if self.command == "PUT":
            data = self.read_body(m)
            d = put_manifest(self.root, repo, ref, data)
            return self.reply(201, b"", {"Docker-Content-Digest": d})
        base = f"{self.root}/repos/{repo}"
        if ref.startswith("sha256:"):
            path = f"{self.root}/blobs/{ref[7:]}"
            ok = os.path.exists(f"{base}/_blobs/{ref[7:]}")
        else:
            path = f"{base}/_manifests/{ref}"
            ok = os.path.exists(path)
        if not ok:
            return self.error(404, "manifest unknown")
        with open(path, "rb") as f:
            data = f.read()
        try:
            with open(path + ".digest") as f:
                digest = f.read().strip()
        except FileNotFoundError:
            digest = "sha256:" + sha(data)
        mt = json.loads(data).get("mediaType", MT_MANIFEST)
        hs = {"Content-Type": mt, "Docker-Content-Digest": digest}
        if m.get("manifest_no_length"):  # the body ends when the connection closes
            hs.update({"Content-Length": None, "Connection": "close"})
            self.close_connection = True
        self.reply(200, data, hs)

    def blob(self, m, repo, digest):
        h = digest[7:] if digest.startswith("sha256:") else ""
        if not h or not os.path.exists(f"{self.root}/repos/{repo}/_blobs/{h}"):
            return self.error(404, "blob unknown")
        data = blob(self.root, h)
        if self.command == "HEAD":
            return self.reply(200, b"", {"Content-Length": str(len(data))})
        if len(data) < m.get("min_size", 4096):
            m = {}  # configs (small) are served plainly: the layers misbehave
        if m.get("redirect_loop"):
            return self.reply(307, b"", {"Location": self.path})
        with self.lock:
            key = (m.get("_gen"), h)
            n = self.blob_gets[key] = self.blob_gets.get(key, 0) + 1
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and not m.get("ignore_range") and rng.startswith("bytes="):
            start, code = int(rng[6:].split("-")[0]), 206
        body = data[start:]
        hs = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
        cl = len(body)
        if m.get("content_length") == "huge":
            cl = 10 ** 13
        elif m.get("content_length") == "extra":
            # More bytes than the blob has, not announced: the body ends
            # when the connection closes.
            body += os.urandom(4096)
            cl = None
            hs["Connection"] = "close"
        if cl is not None:
            hs["Content-Length"] = str(cl)
        if code == 206:
            hs["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        drop = m.get("drop_after") if n <= m.get("drop_count", 1) else None
        self.send_response(code)
        for k, v in hs.items():
            self.send_header(k, v)
        self.end_headers()
        self.log(code, sent_from=start, drop=drop)
        if drop is not None:
            body = body[:max(0, drop - start)]
        self.send_slowly(m, body)
        if drop is not None or cl != len(body):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def send_slowly(self, m, body):
        try:
            if m.get("slow"):
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(m["slow"])
            elif m.get("rate"):
                step = max(1, m["rate"] // 20)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def read_body(self, m):
        n = int(self.headers.get("Content-Length") or 0)
        out = bytearray()
        while len(out) < n:
            chunk = self.rfile.read(min(65536, n - len(out)))
            if not chunk:
                break
            out += chunk
            if m.get("rate"):
                time.sleep(len(chunk) / m["rate"])
        return bytes(out)

    def upload(self, m, repo, arg, q):
        if self.command == "POST":
            src = q.get("from", [None])[0]
            mnt = q.get("mount", [""])[0]
            may = m.get("auth") != "bearer" or "pull" in self.grants.get(src, ())
            if src and mnt.startswith("sha256:") and not m.get("no_mount") and may and \
                    os.path.exists(f"{self.root}/repos/{src}/_blobs/{mnt[7:]}"):
                mark(self.root, repo, mnt[7:])
                return self.reply(201, b"", {"Location": f"/v2/{repo}/blobs/{mnt}",
                                             "Docker-Content-Digest": mnt}, mounted=True)
            return self.reply(202, b"", {"Location": f"/v2/{repo}/blobs/uploads/{secrets.token_hex(8)}",
                                         "Range": "0-0"})
        if self.command == "PUT":
            data = self.read_body(m)
            want = q.get("digest", [""])[0]
            if want != "sha256:" + sha(data):
                return self.error(400, "digest invalid")
            put_blob(self.root, repo, data)
            return self.reply(201, b"", {"Location": f"/v2/{repo}/blobs/{want}",
                                         "Docker-Content-Digest": want})
        return self.error(405, "unsupported")

    def do_GET(self):
        self.route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        Handler.root = sys.argv[2]
        srv = Server(("127.0.0.1", 0), Handler)
        tmp = sys.argv[3] + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, sys.argv[3])
        srv.serve_forever()
    elif cmd == "mkimage":
        print(make_image(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])))
    elif cmd == "variant":
        print(variant(*sys.argv[2:7]))
    elif cmd == "digest":
        print("sha256:" + sha(load_manifest(*sys.argv[2:5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
