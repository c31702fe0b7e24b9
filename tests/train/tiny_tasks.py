"""MIXTURE_OR_TASK_MODULE for the trainer's subprocess tests: registers `tiny_reverse` on import."""
import tiny_setup

tiny_setup.register()
