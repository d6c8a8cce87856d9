"""Pure policy the kit and the controller both run: fault rules, lesson windows, the ladder."""
