"""r1v4: the framework-free core that speaks Skywork R1V4's wire protocol."""
