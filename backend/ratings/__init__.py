"""好差评: the applicant rates a case once its result is out; a poor rating opens a supervisor's follow-up."""
