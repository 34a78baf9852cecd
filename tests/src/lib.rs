//! Black-box test harness for kentei-vault (placeholder, filled in below).
