"""mimo: Multilingual Information retrieval via MOnolingual objectives.

Turn a strong English embedding model (the teacher) into a multilingual retriever for
pooled, mixed-language search by anchoring a multilingual student to the teacher's space.
"""

__version__ = "0.1.0"
