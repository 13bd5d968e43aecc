"""Workflows: the YAML file validated into typed workflows.

``model`` parses and validates the file (errors name the bad field); ``keys`` renders output
key templates safely; ``resources`` loads files a workflow names (watermark logos).
"""

from trigger_service.workflows.keys import KeyTemplate
from trigger_service.workflows.model import Workflow, Workflows, load_workflows, parse_workflows

__all__ = ["KeyTemplate", "Workflow", "Workflows", "load_workflows", "parse_workflows"]
