"""s3:// and http:// paths, against real servers on 127.0.0.1: moto's S3 (in server mode,
a process of its own) and Python's HTTP server. What the store holds is checked with boto3,
behind the engine's back."""

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import smallpond

boto3 = pytest.importorskip("boto3", reason="the object-store tests need moto[server] (scripts/python.sh venv-test)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc):
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("moto server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto server did not start")


class Moto:
    """A moto S3 server of its own; `auth_after` turns on moto's credential checks after
    that many requests (those that create a user and its key)."""

    def __init__(self, auth_after=None):
        self.port = free_port()
        env = dict(os.environ)
        if auth_after is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(auth_after)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}"
        self.key, self.secret = "test-key", "test-secret"

    def client(self, service="s3", key=None, secret=None):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
        )

    def options(self, url=None, **over):
        options = {
            "aws_endpoint_url": url or self.url,
            "aws_access_key_id": self.key,
            "aws_secret_access_key": self.secret,
            "aws_region": "us-east-1",
        }
        options.update(over)
        return options

    def keys(self, bucket, prefix=""):
        listed = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def moto():
    server = Moto()
    yield server
    server.stop()


def table(lo, hi):
    return pa.table({"k": pa.array(range(lo, hi), pa.int64()), "v": [float(i) * 0.5 for i in range(lo, hi)]})


@pytest.fixture
def bucket(moto, request):
    """A fresh bucket holding events/ (three Parquet files and a _SUCCESS marker)."""
    name = "b-" + request.node.name.replace("_", "-")[:40].lower().strip("-")
    s3 = moto.client()
    s3.create_bucket(Bucket=name)
    for i in range(3):
        sink = pa.BufferOutputStream()
        pq.write_table(table(i * 100, i * 100 + 100), sink)
        s3.put_object(Bucket=name, Key=f"events/p{i}.parquet", Body=sink.getvalue().to_pybytes())
    s3.put_object(Bucket=name, Key="events/_SUCCESS", Body=b"")
    s3.put_object(Bucket=name, Key="csv/users.csv", Body=b"user_id,name\n1,ann\n2,bob\n3,cy\n")
    return name


def session(tmp_path, moto, **kw):
    return smallpond.init(
        data_root=str(tmp_path / "root"), progress=False, storage_options=moto.options(), **kw
    )


def test_reads_globs_prefixes_and_objects_as_duckdb_does(tmp_path, moto, bucket):
    sp = session(tmp_path, moto)
    try:
        expected = duckdb.sql("SELECT count(*), sum(range), sum(range * 0.5)::DOUBLE FROM range(300)").fetchone()
        for path in [f"s3://{bucket}/events/*.parquet", f"s3://{bucket}/events", f"s3://{bucket}/events/"]:
            df = sp.read_parquet(path)
            got = sp.partial_sql("SELECT count(*) AS n, sum(k) AS k, sum(v) AS v FROM {0}", df).take_all()
            assert (got[0]["n"], got[0]["k"], got[0]["v"]) == expected, path
        # The _SUCCESS marker is not data; the object alone is one file.
        assert sp.read_parquet(f"s3://{bucket}/events/p1.parquet").count() == 100
        df = sp.read_parquet(f"s3://{bucket}/events").repartition(3, hash_by="k")
        assert sorted(r["k"] for r in df.take_all()) == list(range(300))
        # CSV with a header line, detected by DuckDB's sniffer from the object.
        users = sp.read_csv(f"s3://{bucket}/csv/users.csv").take_all()
        assert users == [{"user_id": 1, "name": "ann"}, {"user_id": 2, "name": "bob"}, {"user_id": 3, "name": "cy"}]
    finally:
        sp.shutdown()


def test_missing_objects_and_buckets_are_named_before_any_task(tmp_path, moto, bucket):
    sp = session(tmp_path, moto)
    try:
        with pytest.raises(Exception, match="NoSuchBucket"):
            sp.read_parquet("s3://no-such-bucket/events/*.parquet")
        with pytest.raises(Exception, match="does not exist: s3://.*/nothing"):
            sp.read_parquet(f"s3://{bucket}/nothing")
        with pytest.raises(Exception, match="no file matches"):
            sp.read_parquet(f"s3://{bucket}/events/*.csv")
        with pytest.raises(Exception, match="gs:// scheme is not supported"):
            sp.read_parquet("gs://bucket/x.parquet")
        df = sp.read_parquet(f"s3://{bucket}/events")
        with pytest.raises(Exception, match="NoSuchBucket"):
            df.write_parquet("s3://no-such-bucket/out", overwrite=True)
        with pytest.raises(Exception, match="read only"):
            df.write_parquet("http://127.0.0.1:1/out")
        # No task finished: the journals of completed tasks hold no record of task 0.
        staging = os.path.join(sp._core.job_dir, "staging")
        done = [
            json.loads(line)["task"]
            for name in os.listdir(staging)
            if name.startswith("records-")
            for line in open(os.path.join(staging, name))
            if line.strip()
        ]
        assert 0 not in done, done
    finally:
        sp.shutdown()


def test_write_parquet_stages_then_replaces_or_appends(tmp_path, moto, bucket):
    sp = session(tmp_path, moto)
    try:
        df = sp.read_parquet(f"s3://{bucket}/events").repartition(2, hash_by="k")
        df.write_parquet(f"s3://{bucket}/out", overwrite=True)
        first = moto.keys(bucket, "out/")
        assert len(first) == 2 and all(k.startswith("out/part-") and k.endswith(".parquet") for k in first), first
        # Nothing staged is left beside the destination.
        assert [k for k in moto.keys(bucket) if ".smallpond-" in k] == []
        back = sp.read_parquet(f"s3://{bucket}/out")
        assert sorted(r["k"] for r in back.take_all()) == list(range(300))

        # Replaced by a later job's result: only its files remain.
        sp2 = session(tmp_path, moto)
        try:
            small = sp2.partial_sql("SELECT * FROM {0} WHERE k < 10", sp2.read_parquet(f"s3://{bucket}/events"))
            small.write_parquet(f"s3://{bucket}/out", overwrite=True)
            second = moto.keys(bucket, "out/")
            assert not set(first) & set(second), (first, second)
            assert sp2.read_parquet(f"s3://{bucket}/out").count() == 10
            # Appended (the original's default): the earlier files stay.
            sp2.partial_sql("SELECT * FROM {0} WHERE k >= 290", sp2.read_parquet(f"s3://{bucket}/events")).write_parquet(
                f"s3://{bucket}/out2"
            )
        finally:
            sp2.shutdown()
        sp.read_parquet(f"s3://{bucket}/events/p0.parquet").write_parquet(f"s3://{bucket}/out2")
        assert sp.read_parquet(f"s3://{bucket}/out2").count() == 110
    finally:
        sp.shutdown()


def test_write_refuses_a_destination_holding_other_files(tmp_path, moto, bucket):
    moto.client().put_object(Bucket=bucket, Key="mine/notes.txt", Body=b"keep me")
    sp = session(tmp_path, moto)
    try:
        df = sp.read_parquet(f"s3://{bucket}/events")
        with pytest.raises(Exception, match="notes.txt"):
            df.write_parquet(f"s3://{bucket}/mine", overwrite=True)
        assert moto.keys(bucket, "mine/") == ["mine/notes.txt"]
    finally:
        sp.shutdown()


def test_environment_variables_configure_s3(tmp_path, moto, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    sp = smallpond.init(data_root=str(tmp_path / "root"), progress=False)
    try:
        assert sp.read_parquet(f"s3://{bucket}/events/*.parquet").count() == 300
    finally:
        sp.shutdown()
    with pytest.raises(Exception, match="not a storage option"):
        smallpond.init(data_root=str(tmp_path / "root2"), progress=False, storage_options={"aws_acces_key": "x"})
    with pytest.raises(Exception, match="not true or false"):
        smallpond.init(data_root=str(tmp_path / "root3"), progress=False, storage_options={"aws_use_ssl": "maybe"})
    with pytest.raises(TypeError, match="storage_options must be a dict"):
        smallpond.init(data_root=str(tmp_path / "root4"), progress=False, storage_options="http://x")


def test_bad_credentials_are_refused_with_the_stores_reason(tmp_path):
    server = Moto(auth_after=4)  # create a user, its key and policy, and the bucket
    try:
        iam = server.client("iam")
        iam.create_user(UserName="u")
        key = iam.create_access_key(UserName="u")["AccessKey"]
        iam.put_user_policy(
            UserName="u",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        server.key, server.secret = key["AccessKeyId"], key["SecretAccessKey"]
        s3 = server.client()
        s3.create_bucket(Bucket="locked")
        sink = pa.BufferOutputStream()
        pq.write_table(table(0, 7), sink)
        s3.put_object(Bucket="locked", Key="t.parquet", Body=sink.getvalue().to_pybytes())

        sp = smallpond.init(
            data_root=str(tmp_path / "root"),
            progress=False,
            storage_options=server.options(aws_secret_access_key="wrong"),
        )
        try:
            with pytest.raises(Exception, match="403"):
                sp.read_parquet("s3://locked/t.parquet")
        finally:
            sp.shutdown()
        # The same request with the right secret passes: it was the credentials.
        sp = smallpond.init(data_root=str(tmp_path / "root2"), progress=False, storage_options=server.options())
        try:
            assert sp.read_parquet("s3://locked/t.parquet").count() == 7
        finally:
            sp.shutdown()
    finally:
        server.stop()


class Proxy:
    """A TCP proxy in front of the store that "dies" (closes every connection and refuses
    new ones) once `limit` bytes of requests have gone through it."""

    def __init__(self, port, limit):
        self.target, self.limit, self.sent = port, limit, 0
        self.dead = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.dead.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.dead.is_set():
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            threading.Thread(target=self.pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, False), daemon=True).start()

    def pump(self, src, dst, counted):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if counted:
                    self.sent += len(data)
                    if self.sent > self.limit:
                        self.die()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def die(self):
        self.dead.set()
        self.server.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_a_store_dying_mid_write_leaves_the_earlier_result(tmp_path, moto, bucket):
    # Partitions of ~1 MB each (random payloads do not compress): the proxy dies while the
    # second of four is being uploaded into the stage.
    local = tmp_path / "big"
    local.mkdir()
    pq.write_table(
        pa.table({"k": pa.array(range(4000), pa.int64()), "blob": [os.urandom(1000) for _ in range(4000)]}),
        local / "big.parquet",
    )
    sp = session(tmp_path, moto)
    try:
        sp.read_parquet(f"s3://{bucket}/events").write_parquet(f"s3://{bucket}/result", overwrite=True)
    finally:
        sp.shutdown()
    earlier = moto.keys(bucket, "result/")
    proxy = Proxy(moto.port, limit=1_600_000)
    sp = smallpond.init(
        data_root=str(tmp_path / "root2"),
        progress=False,
        storage_options=moto.options(url=f"http://127.0.0.1:{proxy.port}"),
        max_attempts=1,
    )
    try:
        df = sp.read_parquet(str(local)).repartition(4, hash_by="k")
        started = time.monotonic()
        with pytest.raises(Exception) as failure:
            df.write_parquet(f"s3://{bucket}/result", overwrite=True)
        assert proxy.dead.is_set()
        assert time.monotonic() - started < 120
        message = str(failure.value)
        assert "s3://" in message or "HTTP" in message or "connect" in message.lower(), message
    finally:
        sp.shutdown()
    # The destination holds the earlier result, whole; staged objects are only beside it,
    # hidden, until the next publish into it removes them.
    assert moto.keys(bucket, "result/") == earlier
    left = [k for k in moto.keys(bucket) if not k.startswith(("events/", "csv/", "result/"))]
    assert left and all(k.startswith(".smallpond-") for k in left), left
    sp = session(tmp_path / "again", moto)
    try:
        assert sp.read_parquet(f"s3://{bucket}/result").count() == 300
        sp.read_parquet(f"s3://{bucket}/events").write_parquet(f"s3://{bucket}/result", overwrite=True)
    finally:
        sp.shutdown()
    assert [k for k in moto.keys(bucket) if k.startswith(".smallpond-")] == []


def test_http_urls_read_one_file_each(tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    pq.write_table(table(0, 42), served / "t.parquet")
    (served / "u.csv").write_text("id,name\n1,a\n2,b\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    sp = smallpond.init(data_root=str(tmp_path / "root"), progress=False)
    try:
        assert sp.read_parquet(f"{base}/t.parquet").count() == 42
        assert sp.read_csv(f"{base}/u.csv").take_all() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
        with pytest.raises(Exception, match="cannot be listed"):
            sp.read_parquet(f"{base}/*.parquet")
        with pytest.raises(Exception, match="404"):
            sp.read_parquet(f"{base}/missing.parquet")
    finally:
        sp.shutdown()
        httpd.shutdown()


def test_cli_reads_and_writes_s3_with_the_aws_variables(tmp_path, moto, bucket):
    cli = os.path.join(os.path.dirname(sys.executable), "smallpond")
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=moto.url,
        AWS_ACCESS_KEY_ID=moto.key,
        AWS_SECRET_ACCESS_KEY=moto.secret,
        AWS_REGION="us-east-1",
        SP_DATA_ROOT=str(tmp_path / "root"),
    )
    run = subprocess.run(
        [cli, "query", "-i", f"s3://{bucket}/events/*.parquet", "-n", "3", "--hash-by", "k",
         "-o", f"s3://{bucket}/cli-out", "SELECT k, v * 2 AS w FROM {0}"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    keys = moto.keys(bucket, "cli-out/")
    assert len(keys) == 3, keys
    body = b"".join(moto.client().get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys[:1])
    assert body[:4] == b"PAR1"
    sp = session(tmp_path, moto)
    try:
        rows = sp.read_parquet(f"s3://{bucket}/cli-out").take_all()
        assert sorted((r["k"], r["w"]) for r in rows) == [(k, float(k)) for k in range(300)]
    finally:
        sp.shutdown()


def test_partitions_whose_columns_drifted_are_written_to_s3_with_one_schema(tmp_path, moto, bucket):
    # Two files with k BIGINT, one with k VARCHAR and another column: one partition each.
    src = tmp_path / "drift"
    src.mkdir()
    pq.write_table(pa.table({"id": [0, 1], "k": [0, 1]}), src / "a.parquet")
    pq.write_table(pa.table({"id": [2, 3], "k": [2, 3]}), src / "b.parquet")
    pq.write_table(pa.table({"id": [4], "k": ["v4"], "x": [1.5]}), src / "c.parquet")
    sp = session(tmp_path, moto)
    try:
        df = sp.read_parquet(str(src)).repartition(3)
        sp.partial_sql("SELECT * FROM {0}", df).write_parquet(f"s3://{bucket}/drift", overwrite=True)
    finally:
        sp.shutdown()
    keys = moto.keys(bucket, "drift/")
    assert len(keys) == 3, keys
    schemas = []
    for key in keys:
        body = moto.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        schemas.append(pq.read_schema(pa.BufferReader(body)))
    assert all(s.equals(schemas[0]) for s in schemas), schemas
    assert schemas[0].names == ["id", "k", "x"]
    assert schemas[0].field("k").type in (pa.string(), pa.large_string())
