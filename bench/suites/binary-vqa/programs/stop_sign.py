def execute_command(image):
    # Question: Is there a sign that says STOP?
    # The text decides, not the color of the sign, so read every sign.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        # No sign at all, so nothing can say STOP
        return "no"
    for sign_patch in sign_patches:
        text = sign_patch.simple_query("What does the sign say?")
        if text.strip().upper() == "STOP":
            return "yes"
        # A blurry sign may be read one letter off (STQP, SOP, ...): double-check
        # readings that look close before moving on
        if "STO" in text.upper() or "TOP" in text.upper():
            if sign_patch.verify_property("sign", "says STOP"):
                return "yes"
    return "no"
