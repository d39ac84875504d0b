"""Machine checks: what this machine is (``system_info``, one parser per fact in ``parsers``) and whether it is ready
for a job (``checks``)."""
