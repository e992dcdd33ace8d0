"""unmask.models"""
