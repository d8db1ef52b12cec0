from shared.service import run_service

from .main import build_spec

run_service(build_spec())
