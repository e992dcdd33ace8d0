"""unmask.detect"""
