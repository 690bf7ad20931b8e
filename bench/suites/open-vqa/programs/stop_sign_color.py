def execute_command(image):
    # Question: What color is the sign that says STOP?
    # Answer with a color, or "N/A" if no sign says STOP.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    for sign_patch in sign_patches:
        # Check the text first; the color is only asked of the STOP sign
        if sign_patch.verify_property("sign", "says STOP"):
            return sign_patch.simple_query("What color is the sign?")
    return "N/A"
