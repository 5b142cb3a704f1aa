"""Citizens' materials (申请材料): uploaded files checked, cleaned and kept in the blob store."""
