def execute_command(image):
    # Question: What color is the sign that does not say STOP?
    # Answer with a color, or "N/A" if every sign says STOP.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    for sign_patch in sign_patches:
        if not sign_patch.verify_property("sign", "says STOP"):
            return sign_patch.simple_query("What color is the sign?")
    return "N/A"
