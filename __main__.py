"""Finance Report on a Dokploy Docker host: config -> stack -> outputs."""

import pulumi

from config.pulumi_config import read_pulumi_config
from program.stack import FinanceReportStack

config = read_pulumi_config()  # raises ConfigError (one line, no traceback) before any resource exists
stack = FinanceReportStack("finance-report", config)
for key, value in stack.outputs.items():
    pulumi.export(key, value)
