"""Trust: the device CA, enrolment, revocation, the broker's configuration, staff sign-in."""
