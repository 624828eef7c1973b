#!/usr/bin/env python3
"""Reads one warehouse table back with a real reader and prints it as JSON.

The end-to-end tests run this with .tools/py/bin/python to check what the
Loading Bay wrote, the way an analyst's tool would see it:

    read_table.py --root DIR|file:///DIR|s3://BUCKET/PREFIX --table orders
                  --reader pyarrow|duckdb [--endpoint http://HOST:PORT]
                  [--region REGION] [--ddl FILE]

S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and
AWS_SESSION_TOKEN if set); the region from --region, else AWS_REGION or
AWS_DEFAULT_REGION, else us-east-1. Instance metadata is never asked.

Layout read: <root>/<table>/<key>=<value>/<name>.parquet, where a partition
directory is committed once it holds _manifest.json; directories without one
are ignored, and names starting with "_" or "." are never data. Partition
values are strings, %-decoded as both readers decode them. Files of
different schema versions are read together by column name, with columns
(and struct fields) missing from older files read as null.

Output, one JSON object on stdout:
    {"schema": [{"name", "type", "nullable", "children"?}, ...],
     "partitions": [committed partition values, sorted],
     "rows": [...], "row_count": N}
Structs become objects, lists arrays, maps arrays of [key, value],
timestamps ISO strings (zoned ones in UTC), dates ISO strings, decimals
strings and binary base64. Rows are sorted by (_partition, _offset) when the
table has those columns, then by their JSON text. Both readers give the same
rows; the schema is each reader's own Arrow view of the table.

Readers:
  pyarrow  pyarrow.fs lists the table, pyarrow.dataset reads the committed
           files with hive partitioning over a schema unified from all files.
  duckdb   A local table DuckDB lists with glob() and reads with
           read_parquet(files, hive_partitioning, union_by_name). An S3 table
           pyarrow lists and opens as for the pyarrow reader, and DuckDB
           queries that Arrow dataset: DuckDB reads S3 only through its
           httpfs extension, which it downloads at run time, and this
           environment cannot download it.

--ddl FILE (duckdb only) reads the table as its Hive DDL describes it instead
of by the layout. The file holds
    CREATE EXTERNAL TABLE `t` (`col` TYPE [COMMENT '..'], ...)
      [COMMENT '..'] PARTITIONED BY (`key` TYPE, ...) STORED AS PARQUET
      LOCATION '...' [TBLPROPERTIES (...)];
    ALTER TABLE `t` ADD [IF NOT EXISTS] PARTITION (`key`='value', ...)
      [LOCATION '...'] [PARTITION (...) ...];
and becomes one DuckDB view over the *.parquet files (not starting with "_"
or ".") directly in each added partition's LOCATION (default
<table location>/key=value): local files DuckDB reads itself, s3:// ones
pyarrow lists and reads for DuckDB, as above (one DDL cannot mix the two).
As in a Hive metastore, the partitions are the ones the ALTER TABLE
statements add, whatever manifests say, and partition values come from the
DDL, not from paths. Each declared column is selected
as CAST(col AS type), or as a typed NULL where no file has it; the partition
columns are the DDL's literal values cast to their declared types. Types:
    BIGINT INT/INTEGER SMALLINT TINYINT -> BIGINT INTEGER SMALLINT TINYINT
    DOUBLE FLOAT BOOLEAN DATE          -> DOUBLE FLOAT BOOLEAN DATE
    STRING VARCHAR(n) CHAR(n)          -> VARCHAR
    BINARY                             -> BLOB
    DECIMAL(p,s)                       -> DECIMAL(p,s)
    TIMESTAMP                          -> TIMESTAMP (zone-less, as in Hive:
                                          instants show as UTC wall clock,
                                          so ISO strings have no offset)
    ARRAY<T>  MAP<K,V>                 -> T[]  MAP(K, V)
    STRUCT<n: T [COMMENT '..'], ...>   -> STRUCT("n" T, ...)
Unlike Hive, which would silently drop or null them, the view refuses data
the DDL does not describe: a column or struct field in the files that is not
declared, or a file type a Parquet reader would not accept for the declared
type (e.g. a string column declared BIGINT, or an int64 declared STRING).
"""

import argparse
import base64
import datetime
import decimal
import functools
import json
import operator
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Without credentials or a region the AWS SDK would ask the EC2 instance
# metadata address, which a reader of a test warehouse has no business asking.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.fs as pafs  # noqa: E402

MANIFEST = "_manifest.json"


def fail(message):
    sys.exit(f"read_table: {message}")


def not_data(name):
    return name.startswith(("_", "."))


def committed(paths, base):
    """The commit rule: (partition key, {value: [data files]}) of the
    committed partitions, given every file path found under base."""
    dirs = {}
    for path in paths:
        parts = path[len(base) :].strip("/").split("/")
        if len(parts) != 2 or not_data(parts[0]):
            continue  # not directly inside a partition directory
        directory, name = parts
        entry = dirs.setdefault(directory, {"manifest": False, "files": []})
        if name == MANIFEST:
            entry["manifest"] = True
        elif name.endswith(".parquet") and not not_data(name):
            entry["files"].append(path)
    keys, partitions = set(), {}
    for directory, entry in dirs.items():
        if not entry["manifest"]:
            continue
        key, sep, value = directory.partition("=")
        if not sep:
            fail(f"committed partition directory {directory!r} is not key=value")
        keys.add(key)
        # Decoded as the readers decode it; distinct names may decode alike.
        partitions.setdefault(unquote(value), []).extend(entry["files"])
    if len(keys) > 1:
        fail(f"partition directories use several keys: {sorted(keys)}")
    return (keys.pop() if keys else None), {v: sorted(f) for v, f in partitions.items()}


class Root:
    """Where a table lives: a local directory or an S3 bucket and prefix."""

    def __init__(self, root):
        self.s3 = root.startswith("s3://")
        if self.s3:
            self.path = root[len("s3://") :].rstrip("/")  # bucket/prefix
        elif root.startswith("file://"):
            self.path = str(Path(urlsplit(root).path).resolve())
        elif "://" in root:
            fail(f"unsupported root {root!r}")
        else:
            self.path = str(Path(root).resolve())

    def table(self, name):
        """The table's base as (pyarrow.fs path, DuckDB path)."""
        base = f"{self.path}/{name}"
        return base, (f"s3://{base}" if self.s3 else base)

    def filesystem(self, args):
        return s3_filesystem(args) if self.s3 else pafs.LocalFileSystem()


def s3_settings(args):
    region = (
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    endpoint = urlsplit(args.endpoint) if args.endpoint else None
    return {
        "key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "token": os.environ.get("AWS_SESSION_TOKEN"),
        "region": region,
        "host": endpoint.netloc if endpoint else None,
        "scheme": endpoint.scheme if endpoint else "https",
    }


def s3_filesystem(args):
    """pyarrow's S3 filesystem, path-style at --endpoint if one is given."""
    s3 = s3_settings(args)
    return pafs.S3FileSystem(
        access_key=s3["key"],
        secret_key=s3["secret"],
        session_token=s3["token"],
        region=s3["region"],
        endpoint_override=s3["host"],
        scheme=s3["scheme"],
    )


# --- pyarrow ---------------------------------------------------------------


def unified_schema(fs, files, extra=()):
    """One schema from every file's own (the first file's would hide columns
    that only newer files have), plus the fields in extra."""
    fragments = ds.dataset(files, filesystem=fs, format="parquet").get_fragments()
    schemas = [f.physical_schema for f in fragments]
    try:
        return pa.unify_schemas(schemas + [pa.schema(extra)], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        fail(f"the files' schemas do not unify: {e}")


def committed_dataset(fs, base):
    """The committed files under base as one pyarrow dataset with the hive
    partition column as a string, and the sorted committed partition values;
    the dataset is None when no committed partition holds a file."""
    found = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    paths = [i.path for i in found if i.type == pafs.FileType.File]
    key, partitions = committed(paths, base)
    files = [f for value in partitions for f in partitions[value]]
    if not files:
        return None, sorted(partitions)
    key_schema = pa.schema([(key, pa.string())])
    dataset = ds.dataset(
        files,
        schema=unified_schema(fs, files, key_schema),
        filesystem=fs,
        format="parquet",
        partitioning=ds.partitioning(key_schema, flavor="hive"),
        partition_base_dir=base,
    )
    return dataset, sorted(partitions)


def read_pyarrow(args, root):
    base, _ = root.table(args.table)
    dataset, partitions = committed_dataset(root.filesystem(args), base)
    return (dataset.to_table() if dataset else pa.table({})), partitions


# --- DuckDB ----------------------------------------------------------------


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def quote_str(text):
    return "'" + text.replace("'", "''") + "'"


def duckdb_connect():
    # Never download an extension at run time; none is needed: DuckDB reads
    # local files itself and S3 objects as Arrow data from pyarrow.
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("SET TimeZone = 'UTC'")
    return con


def duckdb_glob(con, pattern):
    return [row[0] for row in con.sql("SELECT file FROM glob(?)", params=[pattern]).fetchall()]


def read_duckdb(args, root):
    con = duckdb_connect()
    fs_base, base = root.table(args.table)
    if root.s3:
        # pyarrow lists and reads the objects; DuckDB queries the Arrow dataset.
        dataset, partitions = committed_dataset(root.filesystem(args), fs_base)
        if dataset is None:
            return pa.table({}), partitions
        con.register("_rr_table", dataset)
        return con.sql("SELECT * FROM _rr_table").to_arrow_table(), partitions
    _, partitions = committed(duckdb_glob(con, f"{base}/*/*"), base)
    files = [f for value in partitions for f in partitions[value]]
    if not files:
        return pa.table({}), sorted(partitions)
    table = con.sql(
        "SELECT * FROM read_parquet(?, hive_partitioning = true,"
        " hive_types_autocast = false, union_by_name = true)",
        params=[files],
    ).to_arrow_table()
    return table, sorted(partitions)


# --- Hive DDL --------------------------------------------------------------

TOKEN = re.compile(
    r"\s+|--[^\n]*"  # skipped
    r"|`((?:[^`]|``)*)`"  # 1: quoted identifier
    r"|'((?:[^'\\]|\\.)*)'"  # 2: string
    r"|(\w+)"  # 3: word or number
    r"|(\S)"  # 4: symbol
)

SIMPLE_TYPES = {
    "BIGINT": "BIGINT",
    "INT": "INTEGER",
    "INTEGER": "INTEGER",
    "SMALLINT": "SMALLINT",
    "TINYINT": "TINYINT",
    "DOUBLE": "DOUBLE",
    "FLOAT": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "STRING": "VARCHAR",
    "VARCHAR": "VARCHAR",
    "CHAR": "VARCHAR",
    "BINARY": "BLOB",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "DECIMAL": "DECIMAL",
}

# Which Arrow types (as DuckDB reads the files) a declared Hive type accepts.
ACCEPTS = {
    "BIGINT": lambda t: pa.types.is_signed_integer(t),
    "INT": lambda t: pa.types.is_signed_integer(t) and t.bit_width <= 32,
    "INTEGER": lambda t: pa.types.is_signed_integer(t) and t.bit_width <= 32,
    "SMALLINT": lambda t: pa.types.is_signed_integer(t) and t.bit_width <= 16,
    "TINYINT": lambda t: pa.types.is_int8(t),
    "DOUBLE": lambda t: pa.types.is_floating(t),
    "FLOAT": lambda t: pa.types.is_float32(t),
    "BOOLEAN": pa.types.is_boolean,
    "STRING": lambda t: (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    ),
    "BINARY": lambda t: (
        pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
    ),
    "DATE": pa.types.is_date,
    "TIMESTAMP": pa.types.is_timestamp,
    "DECIMAL": pa.types.is_decimal,
}
ACCEPTS["VARCHAR"] = ACCEPTS["CHAR"] = ACCEPTS["STRING"]


def is_list(t):
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


class HiveType:
    """A parsed Hive type: name plus parameters, element types or fields."""

    def __init__(self, name, params=(), args=(), fields=()):
        self.name, self.params, self.args, self.fields = name, params, args, fields

    def duckdb(self):
        if self.name == "ARRAY":
            return f"{self.args[0].duckdb()}[]"
        if self.name == "MAP":
            return f"MAP({self.args[0].duckdb()}, {self.args[1].duckdb()})"
        if self.name == "STRUCT":
            fields = (f"{quote_ident(n)} {t.duckdb()}" for n, t in self.fields)
            return f"STRUCT({', '.join(fields)})"
        if self.name == "DECIMAL":
            return f"DECIMAL({', '.join(self.params or ('10', '0'))})"  # Hive's default
        return SIMPLE_TYPES[self.name]

    def check(self, arrow, where):
        """Fails unless data of this Arrow type is what this type describes."""
        if self.name == "ARRAY":
            if not is_list(arrow):
                fail(f"{where}: declared {self.duckdb()}, files have {arrow}")
            self.args[0].check(arrow.value_type, f"{where}[]")
        elif self.name == "MAP":
            if not pa.types.is_map(arrow):
                fail(f"{where}: declared {self.duckdb()}, files have {arrow}")
            self.args[0].check(arrow.key_type, f"{where} key")
            self.args[1].check(arrow.item_type, f"{where} value")
        elif self.name == "STRUCT":
            if not pa.types.is_struct(arrow):
                fail(f"{where}: declared {self.duckdb()}, files have {arrow}")
            declared = {n.lower(): t for n, t in self.fields}
            for field in arrow:
                if field.name.lower() not in declared:
                    fail(f"{where}.{field.name} is in the files but not declared")
                declared[field.name.lower()].check(field.type, f"{where}.{field.name}")
        elif not ACCEPTS[self.name](arrow):
            fail(f"{where}: declared {self.name}, files have {arrow}")


class DdlParser:
    def __init__(self, text):
        self.tokens, pos = [], 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if m.group(1) is not None:
                self.tokens.append(("ident", m.group(1).replace("``", "`")))
            elif m.group(2) is not None:
                self.tokens.append(("string", re.sub(r"\\(.)", r"\1", m.group(2))))
            elif m.group(3) is not None:
                self.tokens.append(("word", m.group(3)))
            elif m.group(4) is not None:
                self.tokens.append(("symbol", m.group(4)))
            pos = m.end()
        self.pos = 0
        self.tables, self.partitions = {}, {}

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def next(self):
        token = self.peek()
        self.pos += 1
        return token

    def accept(self, value):
        kind, text = self.peek()
        if kind in ("word", "symbol") and text.upper() == value:
            self.pos += 1
            return True
        return False

    def expect(self, value):
        if not self.accept(value):
            fail(f"DDL: expected {value}, found {self.peek()[1]!r}")

    def name(self):
        kind, text = self.next()
        if kind not in ("ident", "word"):
            fail(f"DDL: expected a name, found {text!r}")
        return text

    def string(self):
        kind, text = self.next()
        if kind != "string":
            fail(f"DDL: expected a quoted string, found {text!r}")
        return text

    def table_name(self):
        name = self.name()
        while self.accept("."):  # db.table: the table is what counts here
            name = self.name()
        return name

    def skip_parens(self):
        self.expect("(")
        depth = 1
        while depth:
            kind, text = self.next()
            if kind == "end":
                fail("DDL: unbalanced parentheses")
            depth += (text == "(") - (text == ")") if kind == "symbol" else 0

    def type(self):
        name = self.name().upper()
        if name in ("ARRAY", "MAP"):
            self.expect("<")
            args = [self.type()]
            if name == "MAP":
                self.expect(",")
                args.append(self.type())
            self.expect(">")
            return HiveType(name, args=args)
        if name == "STRUCT":
            self.expect("<")
            fields = []
            while True:
                field = self.name()
                self.expect(":")
                fields.append((field, self.type()))
                if self.accept("COMMENT"):
                    self.string()
                if not self.accept(","):
                    break
            self.expect(">")
            return HiveType(name, fields=fields)
        if name not in SIMPLE_TYPES:
            fail(f"DDL: unsupported type {name}")
        params = []
        if self.accept("("):  # DECIMAL(p,s), VARCHAR(n)
            while not self.accept(")"):
                kind, text = self.next()
                if kind == "word":
                    params.append(text)
                elif text != ",":
                    fail(f"DDL: bad type parameter {text!r}")
        return HiveType(name, params=params if name == "DECIMAL" else ())

    def columns(self):
        self.expect("(")
        columns = []
        while True:
            column = self.name()
            columns.append((column, self.type()))
            if self.accept("COMMENT"):
                self.string()
            if not self.accept(","):
                break
        self.expect(")")
        return columns

    def create(self):
        self.accept("EXTERNAL")
        self.expect("TABLE")
        if self.accept("IF"):
            self.expect("NOT")
            self.expect("EXISTS")
        table = {"columns": None, "partitioned_by": [], "location": None}
        name = self.table_name()
        table["columns"] = self.columns()
        while self.peek()[1] != ";" and self.peek()[0] != "end":
            if self.accept("PARTITIONED"):
                self.expect("BY")
                table["partitioned_by"] = self.columns()
            elif self.accept("STORED"):
                self.expect("AS")
                if self.name().upper() != "PARQUET":
                    fail("DDL: only STORED AS PARQUET is supported")
            elif self.accept("LOCATION"):
                table["location"] = self.string()
            elif self.accept("COMMENT"):
                self.string()
            elif self.accept("TBLPROPERTIES"):
                self.skip_parens()
            else:
                fail(f"DDL: unsupported clause at {self.peek()[1]!r}")
        self.tables[name] = table

    def alter(self):
        self.expect("TABLE")
        name = self.table_name()
        self.expect("ADD")
        if self.accept("IF"):
            self.expect("NOT")
            self.expect("EXISTS")
        while self.accept("PARTITION"):
            self.expect("(")
            spec = []
            while True:
                key = self.name()
                self.expect("=")
                kind, value = self.next()
                if kind not in ("string", "word"):
                    fail(f"DDL: bad partition value {value!r}")
                spec.append((key, value))
                if not self.accept(","):
                    break
            self.expect(")")
            location = self.string() if self.accept("LOCATION") else None
            self.partitions.setdefault(name, []).append((spec, location))

    def parse(self):
        while self.peek()[0] != "end":
            if self.accept(";"):
                continue
            if self.accept("CREATE"):
                self.create()
            elif self.accept("ALTER"):
                self.alter()
            else:
                fail(f"DDL: expected CREATE or ALTER, found {self.peek()[1]!r}")
        return self


def partition_path(spec):
    return "/".join(f"{k}={v}" for k, v in spec)


def local_or_url(location):
    return urlsplit(location).path if location.startswith("file:") else location.rstrip("/")


def s3_parquet_files(fs, location):
    """The data files directly in an s3:// location, listed by pyarrow."""
    found = fs.get_file_info(
        pafs.FileSelector(location[len("s3://") :], allow_not_found=True)
    )
    return sorted(
        i.path
        for i in found
        if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
    )


def read_ddl(args):
    ddl = DdlParser(Path(args.ddl).read_text()).parse()
    if args.table not in ddl.tables:
        fail(f"DDL has no CREATE TABLE for {args.table!r}")
    table = ddl.tables[args.table]
    keys = [k for k, _ in table["partitioned_by"]]
    added = ddl.partitions.get(args.table, [])
    locations = []
    for spec, location in added:
        if location is None:  # Hive's default: key=value under the table
            if table["location"] is None:
                fail(f"partition {spec} has no LOCATION and the table none either")
            location = table["location"].rstrip("/") + "/" + partition_path(spec)
        locations.append(local_or_url(location))
    on_s3 = {loc.startswith("s3://") for loc in locations}
    if len(on_s3) > 1:
        fail("the DDL's partition locations mix S3 and local paths")
    # S3 objects are listed and read by pyarrow, local files by DuckDB itself.
    fs = s3_filesystem(args) if on_s3 == {True} else None
    con = duckdb_connect()

    values, files = [], []  # per file: the partition's values in key order
    for (spec, _), location in zip(added, locations):
        given = dict(spec)
        if sorted(given) != sorted(keys):
            fail(f"partition {spec} does not match PARTITIONED BY {keys}")
        if fs:
            paths = s3_parquet_files(fs, location)
        else:
            paths = duckdb_glob(con, f"{location}/*.parquet")
        for path in paths:
            if not not_data(path.rsplit("/", 1)[-1]):
                files.append(path)
                values.append([given[k] for k in keys])

    declared = table["columns"] + table["partitioned_by"]
    if files and fs:
        # One Arrow dataset of the files, each fragment carrying its
        # partition's values (from the DDL) as string columns.
        file_schema = unified_schema(fs, files)
        for field in file_schema:
            if field.name.lower() in {k.lower() for k in keys}:
                fail(f"column {field.name} is in the files but not declared")
        fragment_values = [
            functools.reduce(operator.and_, (ds.field(k) == x for k, x in zip(keys, v)))
            for v in values
        ]
        dataset = ds.FileSystemDataset.from_paths(
            files,
            schema=pa.unify_schemas([file_schema, pa.schema([(k, pa.string()) for k in keys])]),
            format=ds.ParquetFileFormat(),
            filesystem=fs,
            partitions=fragment_values,
        )
        con.register("_rr_files", dataset)
        source, part = "_rr_files AS d", "d"
        query = f"SELECT * EXCLUDE ({', '.join(map(quote_ident, keys))}) FROM _rr_files LIMIT 0"
    elif files:
        source = (
            f"read_parquet([{', '.join(map(quote_str, files))}], union_by_name = true,"
            " hive_partitioning = false, filename = '_rr_file')"
        )
        query = f"SELECT * EXCLUDE (_rr_file) FROM {source} LIMIT 0"
        # Each file joins its partition's values, as the metastore would give them.
        rows = ", ".join(
            "(" + ", ".join(map(quote_str, [f] + v)) + ")" for f, v in zip(files, values)
        )
        partition_columns = ", ".join(map(quote_ident, ["_rr_file"] + keys))
        source += f" AS d JOIN (VALUES {rows}) AS p({partition_columns}) ON d._rr_file = p._rr_file"
        part = "p"
    if files:
        found = con.sql(query).to_arrow_table().schema
        by_name = {f.name.lower(): f for f in found}
        types = {n.lower(): t for n, t in table["columns"]}
        for field in found:
            if field.name.lower() not in types:
                fail(f"column {field.name} is in the files but not declared")
            types[field.name.lower()].check(field.type, field.name)
        select = [
            f"CAST(d.{quote_ident(n)} AS {t.duckdb()})"
            if n.lower() in by_name
            else f"CAST(NULL AS {t.duckdb()})"
            for n, t in table["columns"]
        ]
        select += [
            f"CAST({part}.{quote_ident(k)} AS {t.duckdb()})" for k, t in table["partitioned_by"]
        ]
    else:
        select = [f"CAST(NULL AS {t.duckdb()})" for _, t in declared]
        source = "(SELECT 1) WHERE false"
    columns = ", ".join(f"{e} AS {quote_ident(n)}" for e, (n, _) in zip(select, declared))
    con.execute(f"CREATE VIEW {quote_ident(args.table)} AS SELECT {columns} FROM {source}")
    result = con.sql(f"SELECT * FROM {quote_ident(args.table)}").to_arrow_table()
    partitions = [spec[0][1] if len(spec) == 1 else partition_path(spec) for spec, _ in added]
    return result, sorted(partitions)


# --- output ----------------------------------------------------------------


def describe(field):
    out = {"name": field.name, "type": str(field.type), "nullable": field.nullable}
    t = field.type
    if pa.types.is_struct(t):
        children = list(t)
    elif pa.types.is_map(t):
        children = [t.key_field, t.item_field]
    elif is_list(t):
        children = [t.value_field]
    else:
        children = []
    if children:
        out["children"] = [describe(c) for c in children]
    return out


def plain(value):
    """A Python value from Arrow as JSON can hold it."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo:
            value = value.astimezone(datetime.timezone.utc)
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def sort_key(columns):
    coordinates = [c for c in ("_partition", "_offset") if c in columns]
    if len(coordinates) < 2:
        coordinates = []

    def key(row):
        # Nulls (a column older files lack) sort first without comparing.
        at = tuple((row[c] is not None, row[c] or 0) for c in coordinates)
        return at, json.dumps(row, sort_keys=True)

    return key


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="DIR, file:///DIR or s3://BUCKET/PREFIX")
    parser.add_argument("--table", required=True)
    parser.add_argument("--reader", required=True, choices=["pyarrow", "duckdb"])
    parser.add_argument("--endpoint", help="S3 endpoint, e.g. http://127.0.0.1:9000")
    parser.add_argument("--region")
    parser.add_argument("--ddl", help="Hive DDL file to read the table through (duckdb only)")
    args = parser.parse_args()

    if args.ddl:
        if args.reader != "duckdb":
            fail("--ddl is translated for the duckdb reader only")
        table, partitions = read_ddl(args)
    elif not args.root:
        fail("--root is required without --ddl")
    elif args.reader == "pyarrow":
        table, partitions = read_pyarrow(args, Root(args.root))
    else:
        table, partitions = read_duckdb(args, Root(args.root))

    rows = [plain(row) for row in table.to_pylist()]
    rows.sort(key=sort_key(table.column_names))
    json.dump(
        {
            "schema": [describe(f) for f in table.schema],
            "partitions": partitions,
            "rows": rows,
            "row_count": len(rows),
        },
        sys.stdout,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
