#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""deploy_lint.py -- checks the Helm chart and Dockerfiles without helm or
docker (neither runs on the build machine): YAML of Chart.yaml and
values.yaml parses; every .Values path a template uses exists in
values.yaml; template delimiters balance; every byoc env variable the
chart sets is one the edge cfg or the worker reads; files the
Dockerfiles copy exist. Exit 1 with one line per problem."""
import os
import re
import sys

import yaml

root = sys.argv[1]
chart = os.path.join(root, "deploy/helm/byoc-edge")
problems = []

with open(os.path.join(chart, "Chart.yaml")) as f:
    meta = yaml.safe_load(f)
for k in ("apiVersion", "name", "version"):
    if k not in meta:
        problems.append(f"Chart.yaml: no {k}")
with open(os.path.join(chart, "values.yaml")) as f:
    values = yaml.safe_load(f)


def has_path(d, path):
    for part in path:
        if not isinstance(d, dict) or part not in d:
            return False
        d = d[part]
    return True


known_env = set()
for src in ("kamailio-cfg/defaults.cfg",):
    known_env |= set(re.findall(r"#!trydefenvs? (BYOC_[A-Z_]+)", open(os.path.join(root, src)).read()))
for dirpath, _, files in os.walk(os.path.join(root, "services/media-worker/src")):
    for fn in files:
        if fn.endswith(".c"):
            known_env |= set(re.findall(r'"(BYOC_[A-Z_]+)"', open(os.path.join(dirpath, fn)).read()))
known_env |= {"BYOC_SECRET_KEY", "BYOC_WORKER_SECRET"}  # read by the module itself

tdir = os.path.join(chart, "templates")
for fn in sorted(os.listdir(tdir)):
    text = open(os.path.join(tdir, fn)).read()
    # every "{{" must open an action closed on the same line ("}}" alone
    # may be YAML flow-map text)
    if "{{" in re.sub(r"\{\{.*?\}\}", "", text, flags=re.S):
        problems.append(f"{fn}: unclosed template action")
    for m in re.finditer(r"\.Values((?:\.[A-Za-z0-9_]+)+)", text):
        path = m.group(1).strip(".").split(".")
        if not has_path(values, path):
            problems.append(f"{fn}: .Values.{'.'.join(path)} is not in values.yaml")
    for env in re.findall(r"name: (BYOC_[A-Z_]+)", text):
        if env not in known_env:
            problems.append(f"{fn}: {env} is read by nothing")

for fn in sorted(os.listdir(os.path.join(root, "deploy/docker"))):
    text = open(os.path.join(root, "deploy/docker", fn)).read()
    for src in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):
        if src != "." and not os.path.exists(os.path.join(root, src)):
            problems.append(f"{fn}: COPY {src}: no such path")

for p in problems:
    print(p)
print(f"deploy lint: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
