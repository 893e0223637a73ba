"""Pathology families (lung_nodule ...): each adds tissue layers and a lesion mask to a scene."""
