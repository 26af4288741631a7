#!/usr/bin/env python3
"""Writes the examples of docs/api.md from a real server.

Starts `labbook serve` on a free loopback port in a temporary directory, sends one request per
route, and prints each request and response as Markdown. Keys are replaced by "$KEY" and ids and
times stay as the server answered, so the examples are real answers, not hand-written ones.

    scripts/api-examples.py build/bin/labbook > /tmp/examples.md
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="labbook-api-examples-")
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--port", str(port), "--data", os.path.join(work, "data"),
         "--init-admin", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    admin = server.stdout.readline().strip()
    base = "http://127.0.0.1:%d" % port
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/api/v1/health")
            break
        except OSError:
            time.sleep(0.05)
    secrets = {admin: "$ADMIN_KEY"}
    out = []

    def scrub(text):
        for secret, name in secrets.items():
            text = text.replace(secret, name)
        return text

    def trim(value, keep):
        """value with every list longer than keep cut to its first entries and a note."""
        if isinstance(value, dict):
            return {k: trim(v, keep) for k, v in value.items()}
        if isinstance(value, list):
            if len(value) > keep:
                return [trim(v, keep) for v in value[:keep]] + ["... %d more" % (len(value) - keep)]
            return [trim(v, keep) for v in value]
        return value

    def call(method, path, body=None, key=admin, content_type="application/json", show=True,
             keep=None):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        if key:
            headers["Authorization"] = "Bearer " + key
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                status, raw = response.status, response.read()
                kind = response.headers.get("Content-Type", "")
                cache = response.headers.get("Cache-Control")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
            cache = None
        if show:
            shown_key = secrets.get(key, "$KEY") if key else None
            out.append("```http")
            out.append("%s %s" % (method, path))
            if shown_key:
                out.append("Authorization: Bearer %s" % shown_key)
            if data is not None:
                out.append("Content-Type: %s" % content_type)
                out.append("")
                if isinstance(body, bytes) and content_type == "application/json":
                    out.append(scrub(body.decode()))
                elif content_type == "application/json":
                    out.append(scrub(json.dumps(body)))
                else:
                    out.append("<%d bytes>" % len(data))
            out.append("```")
            out.append("```")
            out.append("%d" % status)
            if raw and "json" in kind:
                shown = json.loads(raw)
                if keep is not None:
                    shown = trim(shown, keep)
                out.append(scrub(json.dumps(shown, indent=2)))
            elif raw and kind.startswith("image/"):
                out.append("Content-Type: %s" % kind)
                if cache:
                    out.append("Cache-Control: %s" % cache)
                out.append("")
                out.append("<%d bytes of %s>" % (len(raw), kind))
            elif raw:
                out.append(raw.decode(errors="replace")[:200])
            out.append("```")
            out.append("")
        return status, (json.loads(raw) if raw and "json" in kind else raw)

    def title(text):
        out.append("### " + text)
        out.append("")

    title("GET /api/v1/health")
    call("GET", "/api/v1/health", key=None)
    title("POST /api/v1/users")
    _, alice = call("POST", "/api/v1/users", {"name": "alice", "admin": False})
    secrets[alice["secret"]] = "$ALICE_KEY"
    alice_key = alice["secret"]
    title("GET /api/v1/users")
    call("GET", "/api/v1/users")
    title("GET /api/v1/viewer")
    call("GET", "/api/v1/viewer", key=alice_key)
    title("POST /api/v1/keys")
    _, laptop = call("POST", "/api/v1/keys", {"name": "laptop"}, key=alice_key)
    secrets[laptop["secret"]] = "$LAPTOP_KEY"
    title("GET /api/v1/keys")
    call("GET", "/api/v1/keys", key=alice_key)
    title("DELETE /api/v1/keys/{id}")
    call("DELETE", "/api/v1/keys/" + laptop["key"]["id"], key=alice_key)
    title("POST /api/v1/teams")
    call("POST", "/api/v1/teams", {"name": "vision"}, key=alice_key)
    call("POST", "/api/v1/users", {"name": "bob"}, show=False)
    title("PUT /api/v1/teams/{team}/members/{user}")
    call("PUT", "/api/v1/teams/vision/members/bob", {"role": "viewer"}, key=alice_key)
    title("GET /api/v1/teams/{team}/members")
    call("GET", "/api/v1/teams/vision/members", key=alice_key)
    title("DELETE /api/v1/teams/{team}/members/{user}")
    call("DELETE", "/api/v1/teams/vision/members/bob", key=alice_key)

    title("POST /api/v1/runs")
    _, created = call("POST", "/api/v1/runs",
                      {"entity": "vision", "project": "cnn", "name": "baseline",
                       "config": {"optimizer": {"name": "adam", "learning_rate": 0.001}},
                       "tags": ["keras"], "host": "gpu-1", "start_time": 1765080000.0},
                      key=alice_key)
    run = created["run"]["id"]
    title("POST /api/v1/runs/{id}/history")
    call("POST", "/api/v1/runs/%s/history" % run,
         {"keys": ["loss", "accuracy"],
          "points": [[0, 1, 0.9, 1765080001.0], [1, 1, 0.61, 1765080001.0],
                     [0, 2, 0.5, 1765080002.0], [1, 2, 0.8, 1765080002.0],
                     [0, 3, "NaN", 1765080003.0]]}, key=alice_key)
    title("GET /api/v1/runs/{id}/keys")
    call("GET", "/api/v1/runs/%s/keys" % run, key=alice_key)
    title("GET /api/v1/runs/{id}/history")
    call("GET", "/api/v1/runs/%s/history?key=loss&samples=1000" % run, key=alice_key)
    title("PATCH /api/v1/runs/{id}")
    call("PATCH", "/api/v1/runs/%s" % run,
         {"state": "finished", "exit_code": 0, "end_time": 1765080100.0,
          "summary_patch": {"test/accuracy": 0.91}}, key=alice_key)
    title("GET /api/v1/runs/{id}")
    call("GET", "/api/v1/runs/%s" % run[:4], key=alice_key)
    title("GET /api/v1/runs/{id}/summary")
    call("GET", "/api/v1/runs/%s/summary" % run, key=alice_key)
    title("GET /api/v1/runs")
    call("GET", "/api/v1/runs?entity=vision&project=cnn&filter=summary.test.accuracy%3E0.9"
         "&sort=-summary.test.accuracy&limit=10", key=alice_key)

    model = b"LBM1 example model bytes"
    sha = hashlib.sha256(model).hexdigest()
    title("HEAD /api/v1/projects/{entity}/{project}/blobs/{sha256}")
    call("HEAD", "/api/v1/projects/vision/cnn/blobs/" + sha, key=alice_key)
    title("PUT /api/v1/projects/{entity}/{project}/blobs/{sha256}")
    call("PUT", "/api/v1/projects/vision/cnn/blobs/" + sha, model, key=alice_key,
         content_type="application/octet-stream")
    title("POST /api/v1/artifacts")
    call("POST", "/api/v1/artifacts",
         {"entity": "vision", "project": "cnn", "name": "keras-cnn", "type": "model",
          "producer_run": run, "metadata": {"epochs": 15}, "aliases": ["best"],
          "files": [{"path": "model.lbm", "sha256": sha, "size": len(model)}]}, key=alice_key)
    title("GET /api/v1/artifacts")
    call("GET", "/api/v1/artifacts?entity=vision&project=cnn", key=alice_key)
    title("GET /api/v1/artifacts/{entity}/{project}/{name}/{version}")
    call("GET", "/api/v1/artifacts/vision/cnn/keras-cnn/latest", key=alice_key)
    title("GET /api/v1/artifacts/{entity}/{project}/{name}/{version}/files/{path}")
    call("GET", "/api/v1/artifacts/vision/cnn/keras-cnn/v0/files/model.lbm", key=alice_key)
    title("GET /api/v1/blobs/{sha256}")
    call("GET", "/api/v1/blobs/" + sha, key=alice_key)
    _, used_run = call("POST", "/api/v1/runs", {"entity": "vision", "project": "cnn"},
                       key=alice_key, show=False)
    title("POST /api/v1/runs/{id}/used")
    call("POST", "/api/v1/runs/%s/used" % used_run["run"]["id"],
         {"entity": "vision", "project": "cnn", "name": "keras-cnn", "version": "best"},
         key=alice_key)
    title("GET /api/v1/runs/{id}/artifacts")
    call("GET", "/api/v1/runs/%s/artifacts" % run, key=alice_key)

    table = b"index,label,predicted\n0,7,7\n1,2,1\n"
    table_sha = hashlib.sha256(table).hexdigest()
    call("PUT", "/api/v1/projects/vision/cnn/blobs/" + table_sha, table, key=alice_key,
         content_type="text/csv", show=False)
    call("POST", "/api/v1/artifacts",
         {"entity": "vision", "project": "cnn", "name": "predictions", "type": "table",
          "producer_run": run,
          "files": [{"path": "predictions.csv", "sha256": table_sha, "size": len(table)}]},
         key=alice_key, show=False)
    title("GET /api/v1/runs/{id}/tables")
    call("GET", "/api/v1/runs/%s/tables" % run, key=alice_key)
    title("GET /api/v1/runs/{id}/tables/{name}")
    call("GET", "/api/v1/runs/%s/tables/predictions" % run, key=alice_key)

    # The dashboard's analysis routes. Long arrays are cut to their first entries in the output.
    title("GET /api/v1/datasets")
    call("GET", "/api/v1/datasets", key=None, keep=3)
    title("GET /api/v1/datasets/{name}/stats")
    call("GET", "/api/v1/datasets/mnist-digits/stats?split=test", key=None, keep=3)
    title("GET /api/v1/datasets/{name}/{split}/images/{index}")
    call("GET", "/api/v1/datasets/mnist-digits/test/images/0?scale=2", key=None)
    predictions = (b"index,label,predicted,p_0,p_1,p_2\n0,0,0,0.8,0.1,0.1\n1,1,2,0.1,0.3,0.6\n"
                   b"2,2,2,0.2,0.2,0.6\n3,1,1,0.3,0.6,0.1\n4,0,1,0.4,0.5,0.1\n")
    predictions_sha = hashlib.sha256(predictions).hexdigest()
    call("PUT", "/api/v1/projects/vision/cnn/blobs/" + predictions_sha, predictions,
         key=alice_key, content_type="text/csv", show=False)
    _, evaluated = call("POST", "/api/v1/runs",
                        {"entity": "vision", "project": "cnn", "config": {"dataset": "mnist-digits"}},
                        key=alice_key, show=False)
    call("POST", "/api/v1/artifacts",
         {"entity": "vision", "project": "cnn", "name": "keras-cnn-predictions",
          "type": "predictions", "producer_run": evaluated["run"]["id"],
          "files": [{"path": "predictions.csv", "sha256": predictions_sha,
                     "size": len(predictions)}]},
         key=alice_key, show=False)
    title("GET /api/v1/runs/{id}/evaluation")
    call("GET", "/api/v1/runs/%s/evaluation?curve_points=4&misclassified=10"
         % evaluated["run"]["id"], key=alice_key, keep=4)

    title("PATCH /api/v1/projects/{entity}/{project}")
    call("PATCH", "/api/v1/projects/vision/cnn", {"visibility": "public"}, key=alice_key)
    title("GET /api/v1/projects/{entity}/{project}")
    call("GET", "/api/v1/projects/vision/cnn", key=None)
    title("GET /api/v1/projects")
    call("GET", "/api/v1/projects", key=None)
    title("DELETE /api/v1/runs/{id}")
    call("DELETE", "/api/v1/runs/%s" % used_run["run"]["id"], key=alice_key)

    title("Errors")
    call("GET", "/api/v1/nope", key=None)
    call("POST", "/api/v1/health", {}, key=None)
    call("POST", "/api/v1/runs", b'{"entity": "vision", ', key=alice_key)
    call("GET", "/api/v1/viewer", key="lb-" + "x" * 40)
    call("POST", "/api/v1/runs", {"entity": "vision", "project": "cnn"}, key=None)

    server.terminate()
    server.wait(timeout=30)
    print(scrub("\n".join(out)))


if __name__ == "__main__":
    main()
