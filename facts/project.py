"""The Pulumi project's name: the namespace of every config key and the first part of every URN."""

PROJECT = "finance-report"
