"""What tests share: waiting on conditions, write loads."""
