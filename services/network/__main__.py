from services.network.main import build_spec
from shared.service import run_service

run_service(build_spec())
