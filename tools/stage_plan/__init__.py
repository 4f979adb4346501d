"""The stage plan: what deploying one stage over another creates, changes, replaces and deletes,
whether data can be lost or a deploy can deadlock, and which stacks are left behind."""

from tools.stage_plan.model import AppTemplates, Plan
from tools.stage_plan.plan import build_plan, plan_stages

__all__ = ["AppTemplates", "Plan", "build_plan", "plan_stages"]
